"""Drives CostGuard's MCP endpoint with the official MCP Python SDK (`mcp` on PyPI) as a real
client would: connect (the SDK negotiates the protocol), list the tools and resources, call
every tool, propose an action with an approver key, and try what must fail: an unknown tool
(there is no approve tool), bad arguments, and a proposal with a viewer key. Prints one JSON
object of what it saw for tests/api/mcp.rs to check.

usage: mcp_client.py URL APPROVER_KEY VIEWER_KEY ANOMALY_ID MODE TARGET

MODE is the SDK's: "auto" (probe `server/discover`, the stateless 2026-07-28 revision) or
"legacy" (the initialize handshake). TARGET names the job the proposal is for.
"""

import asyncio
import json
import sys

from mcp import Client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client
from mcp.shared.exceptions import MCPError


def client(url, key, mode):
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    return Client(streamable_http_client(url, http_client=http), mode=mode)


def tool_result(r):
    return {
        "is_error": bool(r.is_error),
        "text": "\n".join(c.text for c in r.content if getattr(c, "type", "") == "text"),
        "structured": r.structured_content,
    }


async def error_of(call):
    try:
        await call
    except MCPError as e:
        return {"code": e.error.code, "message": e.error.message, "data": e.error.data}
    return None


async def main(url, approver, viewer, anomaly_id, mode, target):
    seen = {}
    async with client(url, approver, mode) as c:
        seen["protocol_version"] = c.session.protocol_version
        init = c.session.initialize_result
        seen["server"] = init.server_info.name if init else None
        tools = await c.list_tools()
        seen["tools"] = sorted(t.name for t in tools.tools)
        seen["schemas"] = {t.name: t.input_schema for t in tools.tools}
        calls = {
            "query_costs": {"granularity": "day", "group_by": "provider"},
            "list_anomalies": {"state": "open"},
            "get_anomaly": {"id": anomaly_id},
            "list_actions": {},
            "budget_status": {},
        }
        seen["calls"] = {name: tool_result(await c.call_tool(name, args)) for name, args in calls.items()}
        proposed = tool_result(await c.call_tool(
            "propose_action",
            {"kind": "cancel_bigquery_job", "target": target, "risk": "low",
             "provider": "Google Cloud", "account": "analytics-prod", "anomaly_id": anomaly_id},
        ))
        seen["proposed"] = proposed
        action_id = (proposed["structured"] or {}).get("id")
        seen["get_action"] = tool_result(await c.call_tool("get_action", {"id": action_id}))
        seen["missing_anomaly"] = tool_result(await c.call_tool("get_anomaly", {"id": "no-such-anomaly"}))
        seen["approve_tool"] = await error_of(c.call_tool("approve_action", {"id": action_id}))
        seen["bad_granularity"] = await error_of(c.call_tool("query_costs", {"granularity": "week"}))
        seen["unknown_argument"] = await error_of(c.call_tool("list_anomalies", {"colour": "red"}))
        seen["api_rejects_period"] = await error_of(c.call_tool("query_costs", {"from": "2026-12-01", "to": "2026-11-01"}))
        resources = await c.list_resources()
        seen["resources"] = [str(r.uri) for r in resources.resources]
        templates = await c.list_resource_templates()
        seen["templates"] = [t.uri_template for t in templates.resource_templates]
        opened = await c.read_resource("costguard://anomalies/open")
        seen["open_resource"] = json.loads(opened.contents[0].text)
        one = await c.read_resource(f"costguard://anomaly/{anomaly_id}")
        seen["anomaly_resource"] = json.loads(one.contents[0].text)
        seen["missing_resource"] = await error_of(c.read_resource("costguard://anomaly/no-such-anomaly"))
    async with client(url, viewer, mode) as c:
        seen["viewer_propose"] = tool_result(await c.call_tool(
            "propose_action", {"kind": "cancel_bigquery_job", "target": "bquxjob_viewer", "risk": "low"}))
        seen["viewer_read"] = tool_result(await c.call_tool("list_anomalies", {}))
    print(json.dumps(seen, default=str))


asyncio.run(main(*sys.argv[1:7]))
