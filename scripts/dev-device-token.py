#!/usr/bin/env python3
"""Prints a trusted device token and, on a second line, a fresh account token from a `vouch-server --dev` at URL (argv[1]): signs in as
alice, registers a web device with a valid X25519 key (the base point), reads the code from
the dev outbox and verifies it. For scripts/schemathesis.sh; nothing else."""
import json,urllib.request,base64,sys
B=sys.argv[1]
def call(m,p,b=None,t=None):
    h={"content-type":"application/json"}
    if t: h["authorization"]="Bearer "+t
    r=urllib.request.urlopen(urllib.request.Request(B+p,json.dumps(b).encode() if b is not None else None,h,method=m))
    return json.loads(r.read() or b"null")
acc=call("POST","/v1/auth/login",{"email":"alice@acme.test","password":"dev-password"})["account_token"]
kb=base64.urlsafe_b64encode(bytes([1,1,1,0,32,9]+[0]*31)).decode().rstrip("=")
d=call("POST","/v1/devices",{"name":"schemathesis","kind":"web","platform":"st","key_bundle":kb},acc)
call("POST",f"/v1/devices/{d['id']}/email-code",{},acc)
mail=call("GET","/v1/dev/outbox?to=alice@acme.test")
import re
code=re.findall(r"\b(\d{6})\b",json.dumps(mail))[-1]
t=call("POST",f"/v1/devices/{d['id']}/email-code/verify",{"code":code},acc)
print(t["device_token"])
print(call("POST","/v1/auth/login",{"email":"bob@acme.test","password":"dev-password"})["account_token"])
