// SPDX-License-Identifier: MPL-2.0
// The OpenID Connect redirect target: keeps the provider's answer (code, state, issuer, error)
// for the application in this tab's sessionStorage, then hands over to it. Nothing else runs here.
(function () {
  var p = new URLSearchParams(location.search);
  var answer = { code: p.get('code'), state: p.get('state'), iss: p.get('iss'), error: p.get('error') };
  try {
    sessionStorage.setItem('wakks-login-answer', JSON.stringify(answer));
    location.replace('/');
  } catch (e) {
    document.getElementById('status').textContent = 'Login kunne ikke gennemføres i denne fane. Prøv igen.';
  }
})();
