from django.conf import settings

from cases.trail import acting


def client_ip(request):
    """The client's address: REMOTE_ADDR, or with NUM_PROXIES trusted proxies in front, the
    address the outermost trusted proxy saw (same rule as DRF's throttling)."""
    num_proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if num_proxies and forwarded:
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if addresses:
            return addresses[-min(num_proxies, len(addresses))]
    return request.META.get("REMOTE_ADDR") or None


class TrailContextMiddleware:
    """Every trail event written while serving a request records where it came from."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with acting(source_ip=client_ip(request)):
            return self.get_response(request)
