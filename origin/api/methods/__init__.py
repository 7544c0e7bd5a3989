"""Web API methods, grouped as Slack groups them; each module registers its methods."""
