"""A local stand-in for the Replicate HTTP API (stdlib `http.server`, threaded, on 127.0.0.1).

It speaks what the real `replicate` 1.0.7 client sends and reads: bearer-token auth, model and version
prediction creates with `Prefer: wait[=N]`, polling `GET /v1/predictions/{id}` through
starting -> processing -> succeeded/failed/canceled, cancel, version lookups, `application/problem+json`
errors, 429 with `Retry-After`, slow answers, and mask PNGs served at delivery URLs.

Its masks come from a *scene*: realistic SAM-like candidates built from the shared data's ground truth plus the
distractors SAM really proposes (background, hair, whole head, neck, clothing, arm, a face+hand merged blob, masks
split into pieces), degraded the way automatic mask generation degrades them (SAM's 256-cell mask resolution at a
1024 long side; an object no grid point falls on gets no mask).
"""
from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
from PIL import Image


# --------------------------------------------------------------------------------------------------- the scene
def instances_of(mask: np.ndarray, min_frac: float = 0.0003) -> list:
    """Connected components of a class mask large enough to be an instance."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return [lab == k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= max(30, min_frac * mask.size)]


def _bbox(m):
    ys, xs = np.nonzero(m)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def _rect(shape, x0, y0, x1, y1):
    r = np.zeros(shape, bool)
    h, w = shape
    r[max(0, int(y0)):min(h, int(y1)), max(0, int(x0)):min(w, int(x1))] = True
    return r


def _ellipse(shape, cx, cy, ax, ay):
    r = np.zeros(shape, np.uint8)
    cv2.ellipse(r, (int(cx), int(cy)), (max(1, int(ax)), max(1, int(ay))), 0, 0, 360, 1, -1)
    return r.astype(bool)


RIMS = (0.03, 0.07, 0.12)  # an object grown by a rim of background this share of its size (at least 2 px)


def _grown(m: np.ndarray, px: int) -> np.ndarray:
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(m.astype(np.uint8), k) > 0


def _hull(m: np.ndarray) -> np.ndarray:
    """The mask's convex hull, filled: a hand with the gaps between its spread fingers filled."""
    pts = cv2.findNonZero(m.astype(np.uint8))
    out = np.zeros(m.shape, np.uint8)
    cv2.fillPoly(out, [cv2.convexHull(pts)], 1)
    return out.astype(bool)


def finger_pieces(m: np.ndarray) -> list:
    """A hand split the way SAM splits it at its smallest scale: the palm (what an opening as wide as a third of
    the hand keeps) and each finger (the connected parts the opening removed). Together they rebuild the hand."""
    x0, y0, x1, y1 = _bbox(m)
    r = max(2, int(0.17 * min(x1 - x0, y1 - y0)))
    palm = cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_OPEN,
                            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0
    palm &= m
    rest = m & ~palm
    n, lab, stats, _ = cv2.connectedComponentsWithStats(rest.astype(np.uint8), connectivity=8)
    fingers = [lab == k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= max(8, 0.01 * m.sum())]
    if not palm.any() or not fingers:
        return []
    # Specks the opening left behind go to the palm, so the pieces still rebuild the whole hand.
    palm |= rest & ~np.logical_or.reduce(fingers)
    return [palm] + fingers


def object_variants(kind: str, m: np.ndarray, shape) -> list:
    """[(kind:variant, mask)] of one true object: the exact mask and what SAM offers around it."""
    x0, y0, x1, y1 = _bbox(m)
    w, h = x1 - x0, y1 - y0
    size = max(w, h)
    H, W = shape
    out = [(f"{kind}:exact", m)]
    for share in RIMS:
        out.append((f"{kind}:rim", _grown(m, max(2, int(round(share * size))))))
    out.append((f"{kind}:box", _rect(shape, x0, y0, x1, y1)))
    mid = y0 + h / 2
    out += [(f"{kind}:top-half", m & _rect(shape, 0, 0, W, mid)),
            (f"{kind}:bottom-half", m & _rect(shape, 0, mid, W, H))]
    if kind == "hand":
        out.append(("hand:hull", _hull(m)))
        out += [("hand:piece", p) for p in finger_pieces(m)]
    return out


def realistic_regions(faces: list, hands: list, shape, seed: int = 0, whole_prob: float = 1.0) -> list:
    """[(kind:variant, bool mask)] at photo size: each true face and hand (`face:exact`, `hand:exact`; with
    probability 1 - `whole_prob` only as pieces) beside the masks SAM's automatic mode really offers around it:
    the object grown by a rim of background (`rim`, several widths), its filled box (`box`), its top and bottom
    halves, a hand's filled hull (the gaps between spread fingers filled) and its palm and fingers as separate
    pieces (`piece`: their union rebuilds the hand), hand with forearm, face with neck, with hair (`head`), the
    whole person, and background pieces."""
    rng = np.random.default_rng(seed)
    shape = tuple(shape[:2])
    H, W = shape
    out = []
    person = np.zeros(shape, bool)
    for m in faces:
        x0, y0, x1, y1 = _bbox(m)
        w, h, cx = x1 - x0, y1 - y0, (x0 + x1) / 2
        variants = object_variants("face", m, shape)
        if rng.random() >= whole_prob:
            variants = [v for v in variants if v[0] != "face:exact"]
        out += variants
        upper = m & _rect(shape, 0, 0, W, y0 + 0.42 * h)
        pieces = [("face:piece", upper), ("face:piece", m & ~upper & _rect(shape, 0, 0, cx, H)),
                  ("face:piece", m & ~upper & _rect(shape, cx, 0, W, H))]
        out += [p for p in pieces if p[1].any()]
        hair = _ellipse(shape, cx, y0 + 0.2 * h, 0.68 * w, 0.55 * h) & _rect(shape, 0, 0, W, y0 + 0.45 * h) & ~m
        neck = _rect(shape, cx - 0.28 * w, y1 - 0.15 * h, cx + 0.28 * w, y1 + 0.45 * h) & ~m
        out += [("hair", hair), ("face:head", m | hair), ("neck", neck), ("face:+neck", m | neck)]
        clothing = _rect(shape, cx - 1.3 * w, y1 + 0.45 * h, cx + 1.3 * w, H)
        if clothing.any():
            out.append(("clothing", clothing))
        person |= m | hair | neck | clothing
        for fx, fy, ax, ay in ((-0.2, 0.42, 0.09, 0.04), (0.2, 0.42, 0.09, 0.04), (0, 0.78, 0.15, 0.05)):
            out.append(("feature", m & _ellipse(shape, cx + fx * w, y0 + fy * h, ax * w, ay * h)))
    for m in hands:
        ys, xs = np.nonzero(m)
        pts = np.stack([xs, ys], 1).astype(np.float64)
        centre = pts.mean(0)
        _, _, vt = np.linalg.svd(pts - centre, full_matrices=False)
        proj = (pts - centre) @ vt[0]
        for sel in (proj <= np.median(proj), proj > np.median(proj), proj > np.percentile(proj, 70)):
            piece = np.zeros(shape, bool)
            piece[ys[sel], xs[sel]] = True
            out.append(("hand:piece", piece))
        variants = object_variants("hand", m, shape)
        if rng.random() >= whole_prob:
            variants = [v for v in variants if v[0] != "hand:exact"]
        out += variants
        size = max(np.ptp(xs), np.ptp(ys), 4)
        # The arm runs from the hand to the nearest image edge (sleeves and forearms enter from the border).
        edges = {"bottom": H - centre[1], "left": centre[0], "right": W - centre[0], "top": centre[1]}
        side = min(edges, key=edges.get)
        half = 0.3 * size
        cx, cy = centre
        arm = {"bottom": _rect(shape, cx - half, cy, cx + half, H), "top": _rect(shape, cx - half, 0, cx + half, cy),
               "left": _rect(shape, 0, cy - half, cx, cy + half), "right": _rect(shape, cx, cy - half, W, cy + half)
               }[side] & ~m
        out += [("arm", arm), ("hand:+arm", m | arm)]
        person |= m | arm
        for f in faces:
            fw = np.ptp(np.nonzero(f)[1])
            near = cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=max(1, int(0.15 * fw))) > 0
            if (near & f).any():
                out.append(("face+hand", f | m))
    if faces and person.any():
        out.append(("person", person))
    things = np.zeros(shape, bool)
    for m in faces + hands:
        things |= m
    grown = cv2.dilate(things.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    out += [("background", ~grown), ("background", ~grown & _rect(shape, 0, 0, W, H / 2)),
            ("background", ~grown & _rect(shape, 0, H / 2, W, H))]
    out = [(n, r) for n, r in out if r.any()]
    order = rng.permutation(len(out))
    return [out[k] for k in order]


def simulate_sam(regions: list, shape, points_per_side: int = 32, seed: int = 0) -> list:
    """What SAM's automatic mask generator would return for these regions on an image of `shape`: masks at
    SAM's 256-cell resolution (bilinear upsampled, threshold jittered), only for regions a grid point hits."""
    return [m for _, m in simulate_sam_named([(None, r) for r in regions], shape, points_per_side, seed)]


def simulate_sam_named(regions: list, shape, points_per_side: int = 32, seed: int = 0) -> list:
    """`simulate_sam` for [(name, region)]: [(name, mask)] of the regions SAM returns."""
    rng = np.random.default_rng(seed)
    h, w = shape[:2]
    side = max(h, w)
    lw, lh = max(1, round(256 * w / side)), max(1, round(256 * h / side))
    gx = ((np.arange(points_per_side) + 0.5) / points_per_side * w).astype(int)
    gy = ((np.arange(points_per_side) + 0.5) / points_per_side * h).astype(int)
    out = []
    for name, r in regions:
        if r.shape != (h, w):
            r = cv2.resize(r.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5
        low = cv2.resize(r.astype(np.float32), (lw, lh), interpolation=cv2.INTER_AREA)
        up = cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR) > rng.uniform(0.4, 0.6)
        if up[np.ix_(gy, gx)].any():
            out.append((name, up))
    return out


class Scene:
    """Callable the fake server uses: decoded input image -> candidate masks at that image's size.
    `transform` maps photo-size regions into the sent image's frame (e.g. a mosaic layout's `compose`)."""

    def __init__(self, regions: list, transform=None, seed: int = 0):
        self.regions = [r for _, r in regions] if regions and isinstance(regions[0], tuple) else list(regions)
        self.transform = transform
        self.seed = seed

    def __call__(self, rgb: np.ndarray) -> list:
        regions = [self.transform(r) for r in self.regions] if self.transform else self.regions
        return simulate_sam(regions, rgb.shape, seed=self.seed)


def blob_scene(rgb: np.ndarray) -> list:
    """Default scene when a test does not care: a centred blob and the rest of the image."""
    h, w = rgb.shape[:2]
    c = _ellipse((h, w), w / 2, h / 2, w / 4, h / 4)
    return [c, ~c]


# -------------------------------------------------------------------------------------------------- the server
@dataclass
class Plan:
    """How the fake behaves. Lists of statuses are consumed one per request, then requests succeed."""

    token: str = "r8_fake_test_token_0000000000000000"
    service_s: float = 0.0  # time a prediction takes from create to done
    download_s: float = 0.0  # delay before each mask file is served
    create_delay_s: float = 0.0  # a slow API: delay before answering a create
    create_statuses: list = field(default_factory=list)  # e.g. [429, 429] or [500]
    create_statuses_forever: int = 0  # answer every create with this status
    get_statuses: list = field(default_factory=list)
    retry_after: str = "1"
    outcome: str = "succeeded"  # or "failed" / "canceled"
    error: str = "CUDA out of memory. Tried to allocate 2.00 GiB\nTraceback (most recent call last): ..."
    output_shape: str = "dict"  # meta/sam-2's {"combined_mask", "individual_masks"}, or "list" (lucataco)
    max_wait_s: float = 60.0  # the API holds a `Prefer: wait` create at most this long
    extra_urls: list = field(default_factory=list)  # URLs appended to the output (foreign hosts, duplicates)
    pad_bytes: int = 0  # extra bytes appended to each mask PNG (to test size caps)
    echo_auth_in_errors: bool = False  # a careless server that echoes the Authorization header in errors


class FakeReplicate:
    """`with FakeReplicate(plan, scene) as fake:` then point REPLICATE_BASE_URL at `fake.base_url`."""

    def __init__(self, plan: Plan = None, scene=blob_scene):
        self.plan = plan or Plan()
        self.scene = scene
        self.requests: list = []  # (method, path) in arrival order
        self.authorization: list = []  # the Authorization header of each request (None when absent)
        self.predictions: dict = {}
        self._files: dict = {}  # input shape -> mask PNGs
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = None

    def __enter__(self):
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # Views used by tests ---------------------------------------------------------------------------------
    def count(self, method: str, pattern: str) -> int:
        return sum(1 for m, p in self.requests if m == method and re.fullmatch(pattern, p))

    @property
    def creates(self) -> int:
        return self.count("POST", r"/v1/(models/[^/]+/[^/]+/)?predictions")

    def sent_auth(self, prefix: str) -> list:
        """Authorization headers of requests whose path starts with `prefix`."""
        return [a for (_, p), a in zip(self.requests, self.authorization) if p.startswith(prefix)]

    @property
    def downloads(self) -> list:
        return [p for m, p in self.requests if m == "GET" and p.startswith("/delivery/")]

    # Prediction state ------------------------------------------------------------------------------------
    def _create(self, body: dict, model: str) -> dict:
        image = body.get("input", {}).get("image", "")
        rgb = _decode_data_uri(image)
        pid = uuid.uuid4().hex[:20]
        files = self.files_for(rgb.shape if rgb is not None else None)
        pred = {"id": pid, "model": model, "version": body.get("version") or "fakeversion0001",
                "input": body.get("input", {}), "t0": time.monotonic(), "files": files, "n": len(files) - ("combined" in files),
                "canceled": False, "created_at": _now()}
        with self.lock:
            self.predictions[pid] = pred
        return pred

    def files_for(self, shape) -> dict:
        """The scene's mask PNGs for an input of this shape, computed once per shape (so a benchmark's timing
        is the plan's service time, not this fake's own mask drawing); call it ahead to warm up."""
        if shape is None:
            return {}
        key = tuple(shape[:2])
        with self.lock:
            if key in self._files:
                return self._files[key]
        masks = self.scene(np.zeros(key + (3,), np.uint8))
        files = {str(k): _png(m) + b"\0" * self.plan.pad_bytes for k, m in enumerate(masks)}
        if masks:
            files["combined"] = _png(np.logical_or.reduce(masks))
        with self.lock:
            self._files[key] = files
        return files

    def status_of(self, pred: dict) -> str:
        if pred["canceled"]:
            return "canceled"
        age = time.monotonic() - pred["t0"]
        if age < 0.1 * self.plan.service_s:
            return "starting"
        if age < self.plan.service_s:
            return "processing"
        return self.plan.outcome

    def json_of(self, pred: dict) -> dict:
        status = self.status_of(pred)
        base = f"{self.base_url}/delivery/{pred['id']}"
        output = None
        if status == "succeeded":
            masks = [f"{base}/{k}.png" for k in range(pred["n"])] + list(self.plan.extra_urls)
            output = masks if self.plan.output_shape == "list" else {
                "combined_mask": f"{base}/combined.png", "individual_masks": masks}
        return {
            "id": pred["id"], "model": pred["model"], "version": pred["version"], "input": pred["input"],
            "status": status, "output": output, "logs": "", "data_removed": False,
            "error": self.plan.error if status == "failed" else None,
            "metrics": {"predict_time": self.plan.service_s} if status in ("succeeded", "failed") else {},
            "created_at": pred["created_at"], "started_at": pred["created_at"],
            "completed_at": _now() if status in ("succeeded", "failed", "canceled") else None,
            "urls": {"get": f"{self.base_url}/v1/predictions/{pred['id']}",
                     "cancel": f"{self.base_url}/v1/predictions/{pred['id']}/cancel",
                     "web": f"https://replicate.com/p/{pred['id']}"},
        }


def _handler(fake: FakeReplicate):
    plan_of = lambda: fake.plan  # noqa: E731  (tests may swap the plan between calls)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes: avoid 40 ms delayed-ACK stalls

        def log_message(self, *args):  # keep test output clean (and token-free)
            pass

        def _send(self, status: int, body, ctype="application/json", headers=None):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _problem(self, status: int, title: str, detail: str, headers=None):
            if plan_of().echo_auth_in_errors:
                detail += f" (you sent {self.headers.get('Authorization')})"
            self._send(status, {"type": "about:blank", "title": title, "detail": detail, "status": status},
                       "application/problem+json", headers)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {plan_of().token}":
                return True
            self._problem(401, "Unauthenticated", "You did not pass a valid authentication token")
            return False

        def _record(self):
            with fake.lock:
                fake.requests.append((self.command, self.path.split("?")[0]))
                fake.authorization.append(self.headers.get("Authorization"))

        def _body(self) -> dict:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            try:
                return json.loads(raw or b"{}")
            except ValueError:
                return {}

        def do_POST(self):
            self._record()
            body = self._body()
            if not self._authorised():
                return
            plan = plan_of()
            path = self.path.split("?")[0]
            m_cancel = re.fullmatch(r"/v1/predictions/([^/]+)/cancel", path)
            if m_cancel:
                pred = fake.predictions.get(m_cancel.group(1))
                if not pred:
                    return self._problem(404, "Not found", "Prediction not found")
                pred["canceled"] = True
                return self._send(200, fake.json_of(pred))
            m_model = re.fullmatch(r"/v1/models/([^/]+)/([^/]+)/predictions", path)
            if not (m_model or path == "/v1/predictions"):
                return self._problem(404, "Not found", "The requested resource could not be found")
            if plan.create_delay_s:
                time.sleep(plan.create_delay_s)
            with fake.lock:
                status = plan.create_statuses.pop(0) if plan.create_statuses else plan.create_statuses_forever
            if status:
                return self._fail(status)
            if not str(body.get("input", {}).get("image", "")).startswith("data:"):
                return self._problem(422, "Input validation failed", "image: a data URI or URL is required")
            model = f"{m_model.group(1)}/{m_model.group(2)}" if m_model else "lucataco/segment-anything-2"
            pred = fake._create(body, model)
            wait = _prefer_wait(self.headers.get("Prefer"))
            if wait:
                until = time.monotonic() + min(wait, plan.max_wait_s)
                while fake.status_of(pred) in ("starting", "processing") and time.monotonic() < until:
                    time.sleep(0.01)
            self._send(201, fake.json_of(pred))

        def _fail(self, status: int):
            if status == 429:
                return self._problem(429, "Too Many Requests", "Request was throttled.",
                                     {"Retry-After": plan_of().retry_after})
            titles = {401: "Unauthenticated", 402: "Payment Required", 403: "Forbidden",
                      422: "Unprocessable Entity"}
            if status >= 500:
                return self._send(status, b"<html>upstream error</html>", "text/html")
            return self._problem(status, titles.get(status, "Error"), f"fake failure {status}")

        def do_GET(self):
            self._record()
            path = self.path.split("?")[0]
            m_file = re.fullmatch(r"/delivery/([^/]+)/([a-z0-9]+)\.png", path)
            if m_file:  # delivery URLs need no token, like replicate.delivery
                if plan_of().download_s:
                    time.sleep(plan_of().download_s)
                pred = fake.predictions.get(m_file.group(1))
                data = pred and pred["files"].get(m_file.group(2))
                if not data:
                    return self._send(404, b"not found", "text/plain")
                return self._send(200, data, "image/png")
            if not self._authorised():
                return
            with fake.lock:
                status = plan_of().get_statuses.pop(0) if plan_of().get_statuses else 0
            if status:
                return self._fail(status)
            m_pred = re.fullmatch(r"/v1/predictions/([^/]+)", path)
            if m_pred:
                pred = fake.predictions.get(m_pred.group(1))
                if not pred:
                    return self._problem(404, "Not found", "Prediction not found")
                return self._send(200, fake.json_of(pred))
            m_version = re.fullmatch(r"/v1/models/([^/]+)/([^/]+)/versions/([^/]+)", path)
            if m_version:
                return self._send(200, {"id": m_version.group(3), "created_at": _now(), "cog_version": "0.9.0",
                                        "openapi_schema": {"components": {"schemas": {"Output": {
                                            "type": "array", "items": {"type": "string", "format": "uri"}}}}}})
            self._problem(404, "Not found", "The requested resource could not be found")

    return Handler


def _prefer_wait(value) -> float:
    if not value:
        return 0.0
    m = re.fullmatch(r"\s*wait(?:=(\d+))?\s*", value)
    if not m:
        return 0.0
    return float(m.group(1) or 60)


def _decode_data_uri(uri: str):
    if not uri.startswith("data:"):
        return None
    try:
        data = base64.b64decode(uri.split(",", 1)[1])
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    except Exception:
        return None


def _png(mask: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255).save(buf, format="PNG")
    return buf.getvalue()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
