"""The notifier: follows every workspace's change log and tells users about the messages that
concern them (desktop_notification frames, email), by Slack's rules and their preferences.

``decide.py`` is the pure decision; ``pending.py`` the pure schedule of what is held (DND) or
waits for its email delay; ``service.py`` the thin loop over the log, the prefs source, the
presence, the desktop sink and the mailer, all injected.
"""
