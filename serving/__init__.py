"""The inference API: every brand's champions behind one BentoML service (`daiyun.serving.service:Daiyun`).

service.py      the BentoML service: loads champions once, checks keys, answers
schemas.py      request and response bodies (pydantic)
answers.py      request + champion -> answer (no HTTP)
champions.py    loading champions from the MLflow registry or from a built Bento
selfcheck.py    one small question per champion at start: a broken one is reported, not served
precompute.py   forecasts that do not depend on the request, computed at start
forecast_table.py  a forecast as columns, so answers are built with numpy
auth.py         API keys -> brands (the tenant boundary)
http.py         ASGI middleware: key, Content-Type, size and schema checks before BentoML; GET /models;
                /readyz (failures only to keys that cover them); /docs.json
openapi.py      the OpenAPI 3.1 document, written from the request and response models
"""
