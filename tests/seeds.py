"""The product documentation's command bodies (shared/seeds/001), exactly as printed there."""

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
