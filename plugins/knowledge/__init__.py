"""Knowledge base: articles and FAQ for agents and residents."""
