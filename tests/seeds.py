"""The product documentation's command bodies (shared/seeds/001) and client files (seeds 002 and
004), exactly as printed there."""

import copy
import json
from typing import Any

from tests.hermod_core.crypto.vectors import SEED_CERTIFICATE_B64, SEED_DUMMY_CSR_B64

PROVISIONING_COMMAND_TEXT = """
{
   "commandHeader":{
      "lifespan":300,
      "timeout":300,
      "externalId":"my-id"
   },
   "provCommand":{
      "nonce":"123456789",
      "userid":"userA",
      "responsesignaturekey":"ATTESTATION",
      "responseformat":"jws",
      "profile":{
         "servername":"nexus-cod1",
         "name":"TestProfile",
         "keygenrequests":[
            {
               "keyid":"signer",
               "usage":"SIG",
               "keytypeprios":[
                  {
                     "keytype":"RSA",
                     "keylength":"2048",
                     "responsemechanism":"RS256"
                  }
               ],
               "storageprios":[
                  "APP"
               ],
               "keystate":"ACTIVE",
               "certreq":"CERTREQ"
            }
         ]
      }
   }
}
""".replace("CERTREQ", SEED_DUMMY_CSR_B64)

CERTIFICATE_COMMAND_TEXT = """
{
  "commandHeader" : {
    "to" : [ "@userA" ],
    "lifespan" : 60,
    "timeout" : 60,
    "externalId" : "my-id"
  },
  "certCommand" : {
    "profileid" : "3051e9f3-0e4d-436b-a512-2e18d8afe134",
    "certificates" : [ {
      "keyid" : "signer",
      "keystate" : "ACTIVE",
      "data" : "CERTIFICATE"
    } ]
  }
}
""".replace("CERTIFICATE", SEED_CERTIFICATE_B64)


def provisioning_command() -> dict[str, Any]:
    return copy.deepcopy(json.loads(PROVISIONING_COMMAND_TEXT))


def certificate_command() -> dict[str, Any]:
    return copy.deepcopy(json.loads(CERTIFICATE_COMMAND_TEXT))


# The kebab-case example of the integration guide (seed 002), placed in a full file.
KEBAB = """
hermod:
  public-url: https://messaging.example.com/ms
  allowed-clients:
    - client-id: idm
      key: 446020134ee8422db5769fbef9104a4157728610236d4dd1a4b37f935dab410a
      group: smartid
      # Callback Basic Auth is Required for Identity Manager callback.
      callback-basic-auth: username:password
      # The callback URL base for Identity Manager
      callback-url: https://idm-host.example.com/ws/hermod
    - client-id: da
      key: b20f0fd90a8b48c5aa9b694b8e7dd11e20040295afb646eabdc89801b65dde36
      group: smartid
      # The callback URL base for Digital Access.
      callback-url: https://da-host.example.com/https/api/rest/v3.0/personalmessaging
"""

# The camelCase example of cod-hermod.yml (seed 004).
CAMEL = """
hermod:
  log: false
  # Hide exception information to clients
  hideExceptions: true
  # Command callback retries
  attempts: 1
  retryDelay: 30
  # Hermod clients/users. Connecting clients must set X-Api-Key
  allowedClients:
    - clientId: hermod-app
      key: 59c2a0a1999d42dbbe7f16ef1072736a031c5f4739c04025a641ae1751849857
      group: acme
      # The callback URL base for this specific client
      callbackUrl: https://prime-server-url:18443/prime_explorer/ws/hermod
      callbackBasicAuth: primeuser:primeuserpw
"""
