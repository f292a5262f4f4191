"""The HTTP edge: REST and JWTs outside, protobuf envelopes over RabbitMQ inside.

settings.py    environment -> EdgeSettings
routes.py      the route table, derived from the service protos
auth.py        JWT minting and checking, access rules
body.py        request body limits and content type
codec.py       JSON <-> protobuf, API.md's rendering rules
envelopes.py   the Envelope around each command
errors.py      errors -> JSON responses
middleware.py  request id, one log line per request, the last-resort 500
app.py         the Starlette composition root
main.py        the process: settings, logging, RPC client, uvicorn
"""
