"""``stripefleet demo``: a local fleet started, configured and verified in one command."""
