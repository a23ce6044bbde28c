"""Evidence: error bars, measurements of the local GPU, and users' own runs held against the roofline."""
