"""The report's URL fetcher: WeasyPrint may load only `asset:NAME`, our bundled stylesheet and the
charts of the render; anything else is refused and recorded (see render.py's docstring). Apart
from render.py so that importing the renderer's planning does not import WeasyPrint."""

from __future__ import annotations

from weasyprint.urls import URLFetcher, URLFetcherResponse

from .render import BUNDLED, bundled_asset


class AssetFetcher(URLFetcher):
    """Serves `asset:NAME` from the bundled assets and this render's charts; refuses anything
    else. Every request is recorded in `requests`, every refusal in `refused`."""

    def __init__(self, charts: dict | None = None):
        super().__init__(allowed_protocols=("asset",), allow_redirects=False, timeout=1)
        self.charts = dict(charts or {})
        self.requests: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        self.requests.append(url)
        if url.startswith("asset:"):
            name = url[len("asset:"):]
            if name in self.charts:
                return URLFetcherResponse(url, self.charts[name], {"Content-Type": "image/svg+xml"})
            if name in BUNDLED:
                return URLFetcherResponse(url, bundled_asset(name), {"Content-Type": BUNDLED[name]})
        self.refused.append(url)
        raise ValueError(f"refused by the report's URL fetcher: {url[:80]}")

    def __call__(self, url):
        return self.fetch(url)
