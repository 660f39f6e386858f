"""The time loop and its report."""
