"""The real toxiproxy client for Node (npm: toxiproxy-node-client) drives sockfix.ToxiproxyServer:
it makes a proxy and toxics through the API, and Node's own sockets check them on real traffic.

Needs ``node`` and ``npm`` on PATH and the npm registry (the install is bounded); skips, saying
why, otherwise."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import sockfix

INSTALL_TIMEOUT = 120
RUN_TIMEOUT = 30

SCRIPT = r"""
"use strict";
const net = require("net");
const { Toxiproxy } = require("toxiproxy-node-client");

setTimeout(() => { console.error("the script took too long"); process.exit(3); }, 20000).unref();

function roundTrip(listen, data) {  // send data, read until EOF (or the error's code)
  const port = Number(listen.split(":").pop());
  return new Promise((resolve) => {
    const chunks = [];
    const sock = net.connect({ host: "127.0.0.1", port }, () => sock.end(data));
    sock.setTimeout(5000, () => sock.destroy(new Error("ETIMEDOUT")));
    sock.on("data", (c) => chunks.push(c));
    sock.on("end", () => resolve(Buffer.concat(chunks).toString()));
    sock.on("error", (e) => resolve("error:" + (e.code || e.message)));
  });
}

async function failure(promise) {
  try { await promise; return "no error"; } catch (e) { return e.message; }
}

(async () => {
  const [url, upstream] = process.argv.slice(2);
  const toxiproxy = new Toxiproxy(url);
  const out = {};
  out.version = await toxiproxy.getVersion();
  const proxy = await toxiproxy.createProxy({ name: "node", listen: "localhost:0", upstream });
  out.proxy = proxy.toJson();
  const toxic = await proxy.addToxic({ type: "limit_data", attributes: { bytes: 4 } });
  out.toxic = toxic.toJson();
  out.limited = await roundTrip(proxy.listen, "hello world\n");
  const updated = await toxic.update({ attributes: { bytes: 7 }, toxicity: 1 });
  out.updated = updated.toJson();
  out.limited_more = await roundTrip(proxy.listen, "hello world\n");
  out.got = (await proxy.getToxic(toxic.name)).toJson();
  const again = { name: "node", listen: "localhost:0", upstream };
  out.conflict = await failure(toxiproxy.createProxy(again));
  out.bad_toxic = await failure(proxy.addToxic({ type: "walrus" }));
  await updated.remove();
  out.missing = await failure(proxy.getToxic(toxic.name));
  out.whole = await roundTrip(proxy.listen, "hello world\n");
  const disabled = await proxy.update({ enabled: false });
  out.disabled = disabled.toJson();
  out.refused = await roundTrip(proxy.listen, "x\n");
  const populated = await toxiproxy.populate([{ name: "other", listen: "127.0.0.1:0", upstream }]);
  out.populated = Object.keys(populated);
  await toxiproxy.reset();
  out.after_reset = (await toxiproxy.get("node")).toJson();
  out.names = Object.keys(await toxiproxy.getAll());
  await proxy.remove();
  out.gone = await failure(toxiproxy.get("node"));
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e.stack || String(e)); process.exit(2); });
"""


@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with toxiproxy-node-client installed from the npm registry, and the script."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not both on PATH")
    folder = tmp_path_factory.mktemp("toxiproxy-node")
    cmd = [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "toxiproxy-node-client"]
    try:
        done = subprocess.run(
            cmd, cwd=folder, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.skip(
            f"npm install toxiproxy-node-client took over {INSTALL_TIMEOUT} s (no network?)"
        )
    if done.returncode != 0:
        pytest.skip(f"npm install toxiproxy-node-client failed (no network?): {done.stderr[-300:]}")
    (folder / "drive.js").write_text(SCRIPT, encoding="utf-8")
    return folder


@pytest.fixture
def echo() -> Iterator[sockfix.TCPServer]:
    with sockfix.TCPServer(handler=sockfix.echo(), strict=False) as server:
        yield server


def test_the_node_client_drives_proxies_and_toxics(node_client, echo):
    node = shutil.which("node")
    assert node is not None
    with sockfix.ToxiproxyServer(seed=1) as api:
        upstream = f"127.0.0.1:{echo.port}"
        done = subprocess.run(
            [node, "drive.js", api.url, upstream],
            cwd=node_client,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert sorted(api.proxies) == ["other"]  # "node" was removed at the end
        assert api.proxies["other"].faults == []

    listen = out["proxy"]["listen"]
    assert out["version"] == '{"version": "sockfix-0.1.0"}\n'
    assert out["proxy"] == {"enabled": True, "listen": listen, "name": "node", "upstream": upstream}
    assert listen.startswith("127.0.0.1:")
    assert out["toxic"] == {
        "attributes": {"bytes": 4},
        "name": "limit_data_downstream",
        "stream": "downstream",
        "toxicity": 1,
        "type": "limit_data",
    }
    assert out["limited"] == "hell"  # 4 bytes, then EOF
    assert out["updated"]["attributes"] == {"bytes": 7}
    assert out["limited_more"] == "hello w"
    assert out["got"] == out["updated"]
    assert out["conflict"] == "Request failed with status code 409"
    assert out["bad_toxic"] == "Request failed with status code 400"
    assert out["missing"] == "Request failed with status code 404"
    assert out["whole"] == "hello world\n"
    assert out["disabled"]["enabled"] is False
    assert out["refused"] == "error:ECONNREFUSED"
    assert out["populated"] == ["other"]
    assert out["after_reset"] == {**out["proxy"], "enabled": True}  # the same port again
    assert out["names"] == ["node", "other"]
    assert out["gone"] == "Request failed with status code 404"
