"""Files: Slack's upload flows (v2 ``getUploadURLExternal`` -> POST -> ``completeUploadExternal``,
and the legacy multipart ``files.upload``), sharing with access control, and the bytes on the
local filesystem or S3 (:mod:`origin.files.storage`)."""
