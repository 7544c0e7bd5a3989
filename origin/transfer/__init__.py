"""Moving workspaces in and out in Slack's export format: safe archive reading
(:mod:`.archive`), the pure mapping of an export onto a workspace (:mod:`.plan`), the writer
(:mod:`.importer`), the exporter (:mod:`.exporter`) and the job queue that runs both
(:mod:`.jobs`)."""
