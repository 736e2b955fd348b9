"""Console and enrollment-portal views: authenticate, parse, call a service, render."""
