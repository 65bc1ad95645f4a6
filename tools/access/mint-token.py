#!/usr/bin/env python3
"""Mints tokens livecache's access control accepts (README "Access control"), with Python's
standard library alone, so an operator can test a route before the real issuer is wired up.

  EdgeAuth (an ACL token, or one for a single URL when --url is given instead of --acl):
    tools/access/mint-token.py edgeauth --key HEX --acl '/live/ch1/*' --window 300
    tools/access/mint-token.py edgeauth --key HEX --url /live/ch1/index.m3u8 --start 1700000000 --end 1700000300
  RFC 9246 URI Signing (a JWT, HS256):
    tools/access/mint-token.py uri_signing --key HEX [--kid ID] --uri-regex 'http://cdn\\.example/live/ch1/.*' --window 300
    tools/access/mint-token.py uri_signing --key HEX --uri-hash 'http://cdn.example/live/ch1/index.m3u8'

Prints the token; put it in the route's query parameter (`__token__=` for edgeauth,
`URISigningPackage=` for uri_signing, or the route's `param`), a cookie or a header of that name.
"""
import argparse
import base64
import hashlib
import hmac
import json
import sys
import time


def edgeauth(key, acl=None, url=None, start=None, end=None, ip=None):
    fields = []
    if ip:
        fields.append(f"ip={ip}")
    if start is not None:
        fields.append(f"st={start}")
    fields.append(f"exp={end}")
    if acl is not None:
        fields.append(f"acl={acl}")
    signed = "~".join(fields)
    message = signed if acl is not None else f"{signed}~url={url}"
    mac = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
    return f"{signed}~hmac={mac}"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uri_signing(key, kid=None, start=None, end=None, uri_hash=None, uri_regex=None, ip=None,
                renew=None):
    header = {"alg": "HS256", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    claims = {"cdniv": 1}
    if end is not None:
        claims["exp"] = end
    if start is not None:
        claims["nbf"] = start
    if ip:
        claims["cdniip"] = ip
    if uri_hash is not None:
        claims["cdniuc"] = "hash:" + b64(hashlib.sha256(uri_hash.encode()).digest())
    elif uri_regex is not None:
        claims["cdniuc"] = "regex:" + uri_regex
    if renew is not None:
        # RFC 9246 4.4: the edge hands on a successor living `renew` seconds, by cookie.
        claims["cdniets"] = renew
        claims["cdnistt"] = 1
    compact = lambda obj: b64(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode())
    signed = f"{compact(header)}.{compact(claims)}"
    return f"{signed}.{b64(hmac.new(key, signed.encode(), hashlib.sha256).digest())}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scheme", choices=["edgeauth", "uri_signing"])
    ap.add_argument("--key", required=True, help="the key, in hex (a line of the route's key file)")
    ap.add_argument("--kid", help="uri_signing: the key's name (ID= in the key file)")
    ap.add_argument("--acl", help="edgeauth: path pattern(s), '!'-separated, '*' matches anything")
    ap.add_argument("--url", help="edgeauth: the one path the token is for (instead of --acl)")
    ap.add_argument("--uri-hash", help="uri_signing: the one URI (http://HOST/path?query) it is for")
    ap.add_argument("--uri-regex", help="uri_signing: a regular expression the whole URI must match")
    ap.add_argument("--ip", help="the only client address it is valid for")
    ap.add_argument("--renew", type=int, help="uri_signing: ask the edge to renew it by cookie, each successor valid this many seconds (cdniets, cdnistt=1)")
    ap.add_argument("--start", type=int, help="valid from (seconds since the epoch)")
    ap.add_argument("--end", type=int, help="valid until (seconds since the epoch)")
    ap.add_argument("--window", type=int, default=300, help="valid for this long from now (when --end is not given)")
    args = ap.parse_args()
    key = bytes.fromhex(args.key)
    end = args.end if args.end is not None else int(time.time()) + args.window
    if args.scheme == "edgeauth":
        if (args.acl is None) == (args.url is None):
            sys.exit("edgeauth: give --acl or --url")
        print(edgeauth(key, args.acl, args.url, args.start, end, args.ip))
    else:
        print(uri_signing(key, args.kid, args.start, end, args.uri_hash, args.uri_regex, args.ip,
                          args.renew))


if __name__ == "__main__":
    main()
