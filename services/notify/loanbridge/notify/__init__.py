"""The notify service: Reminders and messages on DingTalk, WeCom, SMS, email, webhooks and the in-app inbox."""
