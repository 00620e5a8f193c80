"""The MCP server: tools, resources, streamable HTTP (`http.start_mcp_http`) and stdio (`stdio.run_stdio`)."""
