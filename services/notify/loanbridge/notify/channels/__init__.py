"""Channel adapters: each speaks one provider's documented request format and signing, and nothing else."""
