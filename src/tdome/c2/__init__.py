"""Battle-management core: tracking, threat evaluation, assignment, engagement. Never sees truth."""
