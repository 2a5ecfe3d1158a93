"""intake's rules: what a lead must carry, how a customer is recognised, how partner quotas count."""
