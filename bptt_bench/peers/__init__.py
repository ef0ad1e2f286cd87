"""Cross-checks against other projects' TBPTT code (optional extra `.[peers]`)."""
