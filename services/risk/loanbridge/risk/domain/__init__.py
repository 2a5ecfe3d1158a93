"""risk's business rules: plain Python over zen-engine decision models, no Flask, SQL or broker."""
