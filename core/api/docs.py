"""The browsable API docs (Swagger UI). Its bundle and stylesheet come from the jsDelivr CDN, so this one
page widens the site's Content-Security-Policy to that host; every other page keeps 'self' only."""

from csp.decorators import csp_update
from drf_spectacular.views import SpectacularSwaggerView

SWAGGER_CDN = "https://cdn.jsdelivr.net"

api_docs_view = csp_update(
    {"script-src": [SWAGGER_CDN], "style-src": [SWAGGER_CDN], "img-src": [SWAGGER_CDN]}
)(SpectacularSwaggerView.as_view(url_name="api-schema"))
