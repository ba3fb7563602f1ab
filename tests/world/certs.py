#!/usr/bin/python3
"""Throwaway test PKI made with the openssl CLI at test time.

    certs.py --dir DIR                      # the default set (see ensure_default)
    certs.py --dir DIR --ca NAME            # one more CA
    certs.py --dir DIR --cert NAME --signed-by CA --hosts a.test,127.0.0.1 [--days N]

Files are NAME.pem (certificate) and NAME.key (unencrypted private key).
Keys are P-256 (fast to generate). Nothing here is ever trusted outside the
test that made it.
"""

import argparse
import ipaddress
import os
import subprocess
import sys
import tempfile

DEFAULT_HOSTS = ["check.example.test", "localhost", "127.0.0.1", "::1"]
DAYS = "30"


def _run(args):
    r = subprocess.run(["openssl"] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.strip()))


def make_ca(directory, name="ca", cn=None):
    """A self-signed CA: DIR/NAME.pem, DIR/NAME.key."""
    crt = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    _run(["req", "-x509", "-newkey", "ec", "-pkeyopt",
          "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
          "-out", crt, "-days", DAYS,
          "-subj", "/O=flipper tests/CN=%s" % (cn or "flipper test CA " + name),
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return crt, key


def make_cert(directory, name, hosts, ca="ca", days=DAYS):
    """A server certificate for hosts (DNS names or IPs) signed by CA,
    valid from now for days (a short one is about to expire)."""
    crt = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    ca_crt = os.path.join(directory, ca + ".pem")
    ca_key = os.path.join(directory, ca + ".key")
    sans = []
    for h in hosts:
        try:
            ipaddress.ip_address(h)
            sans.append("IP:" + h)
        except ValueError:
            sans.append("DNS:" + h)
    with tempfile.TemporaryDirectory() as tmp:
        csr = os.path.join(tmp, "req.csr")
        ext = os.path.join(tmp, "ext.cnf")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid,issuer\n"
                    "subjectAltName=%s\n" % ",".join(sans))
        _run(["req", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
              "-out", csr, "-subj", "/O=flipper tests/CN=%s" % hosts[0]])
        _run(["x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
              "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
              "-out", crt, "-days", str(days), "-extfile", ext])
    return crt, key


def ensure_default(directory, hosts=None):
    """The set the backends use unless told otherwise:

      ca.pem         the CA a test trusts
      server.pem     cert for hosts (default DEFAULT_HOSTS) signed by ca
      wrongca.pem    an unrelated CA (trusting it must fail against server)
      wrong-server.pem  cert for the same hosts signed by wrongca

    Existing files are kept, so several processes can share one directory.
    """
    os.makedirs(directory, exist_ok=True)
    hosts = hosts or DEFAULT_HOSTS
    if not os.path.exists(os.path.join(directory, "ca.pem")):
        make_ca(directory, "ca")
    if not os.path.exists(os.path.join(directory, "server.pem")):
        make_cert(directory, "server", hosts, "ca")
    if not os.path.exists(os.path.join(directory, "wrongca.pem")):
        make_ca(directory, "wrongca")
    if not os.path.exists(os.path.join(directory, "wrong-server.pem")):
        make_cert(directory, "wrong-server", hosts, "wrongca")
    return {n: os.path.join(directory, n + ".pem")
            for n in ("ca", "server", "wrongca", "wrong-server")}


def main(argv=None):
    ap = argparse.ArgumentParser(description="make a throwaway test PKI")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ca", help="make a CA with this name")
    ap.add_argument("--cert", help="make a server cert with this name")
    ap.add_argument("--signed-by", default="ca")
    ap.add_argument("--hosts", default=",".join(DEFAULT_HOSTS))
    ap.add_argument("--days", type=int, default=int(DAYS), help="server cert validity")
    args = ap.parse_args(argv)
    hosts = [h for h in args.hosts.split(",") if h]
    os.makedirs(args.dir, exist_ok=True)
    if args.ca:
        print(make_ca(args.dir, args.ca)[0])
    if args.cert:
        print(make_cert(args.dir, args.cert, hosts, args.signed_by, args.days)[0])
    if not args.ca and not args.cert:
        for path in ensure_default(args.dir, hosts).values():
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
