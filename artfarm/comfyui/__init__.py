"""Speaking to ComfyUI: an HTTP + WebSocket client, workflow templates and their validation."""
