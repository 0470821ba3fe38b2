// SPDX-License-Identifier: MPL-2.0
// The OpenID Connect redirect target: hands code, state and issuer to the window that opened the
// login, then closes.
(function () {
  var p = new URLSearchParams(location.search);
  var msg = { type: 'wakks-oidc', code: p.get('code'), state: p.get('state'), iss: p.get('iss'), error: p.get('error') };
  if (window.opener) {
    window.opener.postMessage(msg, location.origin);
    window.close();
  } else {
    document.getElementById('status').textContent = 'Login-vinduet kan lukkes.';
  }
})();
