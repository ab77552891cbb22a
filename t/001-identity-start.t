# Startup verification of the provisioned identity: "nginx -t" fails with
# one [emerg] line naming the file and the reason for every broken input,
# and a valid identity starts.
use strict;
use warnings;
use lib 't/lib';
use OvsaTest;

run_tests();

__DATA__

=== TEST 1: a valid RSA identity starts and serves leaf + intermediate
--- config
    location = /chain { ovsa_chain; }
--- request
GET /chain
--- response_headers
Content-Type: application/pem-certificate-chain
--- response_body_like
^-----BEGIN CERTIFICATE-----\n[^-]+-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n[^-]+-----END CERTIFICATE-----\n$
--- error_log
ovsa: identity verified: $PKI/chain-rsa.pem
alg rsa-pss-sha512

=== TEST 2: a P-256 identity starts
--- yaml
identity:
  chain: $PKI/chain-ec.pem
  key: $PKI/leaf-ec.key
  root: $PKI/root.pem
--- config
--- error_log
alg ecdsa-p256-sha256

=== TEST 3: an Ed25519 identity starts
--- yaml
identity:
  chain: $PKI/chain-ed25519.pem
  key: $PKI/leaf-ed25519.key
  root: $PKI/root.pem
--- config
--- error_log
alg ed25519

=== TEST 4: a trailing copy of the root is accepted and not served
--- yaml
identity:
  chain: $PKI/chain-with-root.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- config
    location = /chain { ovsa_chain; }
--- request
GET /chain
--- response_body_like
^(-----BEGIN CERTIFICATE-----\n[^-]+-----END CERTIFICATE-----\n){2}$

=== TEST 5: chain under another root
--- yaml
identity:
  chain: $PKI/chain-foreign.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
identity.chain: $PKI/chain-foreign.pem: chain: certificate 2 (CN=foreign intermediate) is not issued by the expected root (CN=ovsa test vendor root) (OVSA_E_CHAIN_ROOT)

=== TEST 6: expired leaf
--- yaml
identity:
  chain: $PKI/chain-expired.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
identity.chain: $PKI/chain-expired.pem: chain: certificate 1 (CN=localhost): certificate has expired (OVSA_E_CERT_EXPIRED)

=== TEST 7: leaf not yet valid
--- yaml
identity:
  chain: $PKI/chain-not-yet.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
chain: certificate 1 (CN=localhost): certificate is not yet valid (OVSA_E_CERT_NOT_YET)

=== TEST 8: truncated chain file
--- yaml
identity:
  chain: $PKI/truncated.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
identity.chain: $PKI/truncated.pem: certificate 2: malformed PEM
(OVSA_E_PEM)

=== TEST 8a: a certificate without its BEGIN line is not skipped
--- yaml
identity:
  chain: $PKI/nobegin.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
identity.chain: $PKI/nobegin.pem: certificate 2: malformed PEM (an END line without its BEGIN line) (OVSA_E_PEM)

=== TEST 9: reordered chain (intermediate first)
--- yaml
identity:
  chain: $PKI/reordered.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
chain: certificate 2 (CN=localhost) is not the issuer of certificate 1 (CN=ovsa test intermediate): the chain must run from the leaf to the root (OVSA_E_CHAIN_ORDER)

=== TEST 10: intermediate missing
--- yaml
identity:
  chain: $PKI/leaf-only.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
chain: certificate 1 (CN=localhost) is not issued by the expected root (CN=ovsa test vendor root) (OVSA_E_CHAIN_ROOT)

=== TEST 11: private key does not match the leaf
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: $PKI/other.key
  root: $PKI/root.pem
--- must_die
--- error_log
identity.key: $PKI/other.key: private key does not match the leaf certificate (CN=localhost) (OVSA_E_KEY_MISMATCH)

=== TEST 11a: leaf without the ovsa policy (clients would refuse it)
--- yaml
identity:
  chain: $PKI/chain-nopolicy.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
identity.chain: $PKI/chain-nopolicy.pem: leaf (CN=localhost) does not carry the ovsa policy 2.25.
(OVSA_E_CERT_POLICY)

=== TEST 11b: leaf without the serverAuth EKU
--- yaml
identity:
  chain: $PKI/chain-noeku.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
identity.chain: $PKI/chain-noeku.pem: leaf (CN=localhost) does not list the serverAuth extended key usage (OVSA_E_CERT_EKU)

=== TEST 12: chain file is not PEM
--- yaml
identity:
  chain: $PKI/garbage.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
identity.chain: $PKI/garbage.pem: no PEM or DER certificate found (OVSA_E_CHAIN_EMPTY)

=== TEST 13: chain file is empty
--- yaml
identity:
  chain: $PKI/empty.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
identity.chain: $PKI/empty.pem: no PEM or DER certificate found (OVSA_E_CHAIN_EMPTY)

=== TEST 14: chain file missing
--- yaml
identity:
  key: $PKI/leaf-rsa.key
  chain: $PKI/nonexistent.pem
  root: $PKI/root.pem
--- must_die
--- error_log
default.yaml:3: identity.chain: $PKI/nonexistent.pem: No such file or directory (OVSA_E_CONF_FILE)

=== TEST 15: chain names a directory
--- yaml
identity:
  chain: $PKI
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
default.yaml:2: identity.chain: $PKI: not a regular file (OVSA_E_CONF_FILE)

=== TEST 16: private key readable by everyone
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: $PKI/world.key
  root: $PKI/root.pem
--- must_die
--- error_log
identity.key: $PKI/world.key: private key file has mode 0644: group and others must have no access (chmod 600) (OVSA_E_KEY_MODE)

=== TEST 17: root file is not a certificate
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/garbage.pem
--- must_die
--- error_log
identity.root: $PKI/garbage.pem: no PEM or DER certificate found (OVSA_E_CHAIN_EMPTY)

=== TEST 18: the root given is the intermediate, not a root
--- yaml
identity:
  chain: $PKI/leaf-only.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/inter.pem
--- must_die
--- error_log
(OVSA_E_CHAIN_ROOT)

=== TEST 19: malformed YAML names file and line
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: [unclosed
  root: $PKI/root.pem
--- must_die
--- error_log
default.yaml:4: malformed YAML: did not find expected ',' or ']' while parsing a flow sequence started at line 3 (OVSA_E_CONF_SYNTAX)

=== TEST 20: unknown key names file, line and key
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
  roots: $PKI/root.pem
--- must_die
--- error_log
default.yaml:5: identity.roots: unknown key (OVSA_E_CONF_KEY)

=== TEST 21: unknown section
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
signing:
  alg: none
--- must_die
--- error_log
default.yaml:5: signing: unknown section (OVSA_E_CONF_KEY)

=== TEST 22: wrong type
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
backend:
  threads: many
--- must_die
--- error_log
default.yaml:6: backend.threads: expected an integer (OVSA_E_CONF_TYPE)

=== TEST 23: value out of range
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
redis:
  db: 99
--- must_die
--- error_log
default.yaml:6: redis.db: 99 is out of range 0..15 (OVSA_E_CONF_VALUE)

=== TEST 24: duplicate key
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  chain: $PKI/chain-ec.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
--- must_die
--- error_log
default.yaml:3: identity.chain: duplicate key (first on line 2) (OVSA_E_CONF_KEY)

=== TEST 25: required key missing
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: $PKI/leaf-rsa.key
--- must_die
--- error_log
default.yaml:1: identity.root: required key is missing (OVSA_E_CONF_MISSING)

=== TEST 26: hardware key enabled without module and key
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  root: $PKI/root.pem
hardware_key:
  enabled: true
--- must_die
--- error_log
default.yaml:5: hardware_key: "module" and "key_uri" are required when enabled (OVSA_E_CONF_MISSING)

=== TEST 27: hardware key with a key file too
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
hardware_key:
  enabled: true
--- must_die
--- error_log
default.yaml:3: identity.key: must not be set when hardware_key.enabled is true

=== TEST 28: key_uri must be a pkcs11 URI
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  root: $PKI/root.pem
hardware_key:
  enabled: true
  module: $PKI/root.pem
  key_uri: "slot0:key"
  pin_env: OVSA_PIN
--- must_die
--- error_log
hardware_key.key_uri: not an RFC 7512 "pkcs11:" URI (OVSA_E_CONF_VALUE)

=== TEST 29: a bad listen address
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
backend:
  listen: "unix:relative.sock"
--- must_die
--- error_log
default.yaml:6: backend.listen: unix socket path must be absolute (OVSA_E_CONF_VALUE)

=== TEST 30: ovsa_config given twice
--- http_config
    ovsa_config $TEST_NGINX_SERVROOT/conf/default.yaml;
--- must_die
--- error_log
"ovsa_config" directive is duplicate

=== TEST 31: ovsa_chain without ovsa_config
--- no_ovsa_config
--- config
    location = /chain { ovsa_chain; }
--- must_die
--- error_log
"ovsa_chain" directive needs "ovsa_config" earlier in the http block

=== TEST 32: private key readable by the group
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: $PKI/group.key
  root: $PKI/root.pem
--- must_die
--- error_log
identity.key: $PKI/group.key: private key file has mode 0640: group and others must have no access (chmod 600) (OVSA_E_KEY_MODE)

=== TEST 33: an identity in DER (chain, key and root) starts and serves PEM
--- yaml
identity:
  chain: $PKI/chain-ec.der
  key: $PKI/leaf-ec-key.der
  root: $PKI/root.der
--- config
    location = /chain { ovsa_chain; }
--- request
GET /chain
--- response_body_like
^-----BEGIN CERTIFICATE-----\n[^-]+-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n[^-]+-----END CERTIFICATE-----\n$
--- error_log
ovsa: identity verified: $PKI/chain-ec.der
alg ecdsa-p256-sha256

=== TEST 34: a repeated section is an error, not an override
--- yaml
identity:
  chain: $PKI/chain-rsa.pem
  key: $PKI/leaf-rsa.key
  root: $PKI/root.pem
licenses:
  isv_certs: [$PKI/root.pem]
redis:
  db: 1
licenses:
  isv_certs: [$PKI/chain-rsa.pem]
--- must_die
--- error_log
default.yaml:9: licenses: duplicate key (first on line 5) (OVSA_E_CONF_KEY)
