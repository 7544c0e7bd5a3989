"""The origin's Web API: Slack's conventions over HTTP (``/api/<method>``)."""
