"""Background work: policies, RQ jobs, timers and the delivery channels."""
