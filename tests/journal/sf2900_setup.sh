#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# Throw-away keys for the sf2900 test, in DIR: a CA; the municipality's system certificate
# (client of Serviceplatformen); the stand-in's server certificate and its client certificate for
# delivering receipts; the journal's receipt endpoint certificate; an SSH host key and user key;
# an sshd configuration for a loopback port with SFTP only. Prints the host key's fingerprint.
set -eu
DIR=$1
SSHD_PORT=$2
cd "$DIR"
# sshd started by root needs its privilege separation directory (normally made at boot).
if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then mkdir -p -m 0755 /run/sshd; fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-days 2 -subj "/CN=Test CA" >/dev/null 2>&1
cert() { # name CN
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" \
		-subj "/CN=$2" >/dev/null 2>&1
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" \
		-days 2 -extfile "$1.ext" >/dev/null 2>&1
}
cert system wakks-journal-system
cert standin localhost
cert serviceplatformen serviceplatformen
cert receipts localhost
# a certificate from another CA: refused by both ends
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout stranger.key \
	-out stranger.pem -days 2 -subj "/CN=wakks-journal-system" >/dev/null 2>&1
ssh-keygen -q -t ed25519 -N '' -f hostkey >/dev/null
ssh-keygen -q -t ecdsa -b 256 -m PEM -N '' -f userkey >/dev/null
cp userkey.pub authorized_keys
mkdir -p sftproot
cat >sshd_config <<CONF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $DIR/hostkey
PidFile $DIR/sshd.pid
AuthorizedKeysFile $DIR/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
ForceCommand internal-sftp
Subsystem sftp internal-sftp
CONF
ssh-keygen -l -E sha256 -f hostkey.pub | cut -d' ' -f2
