"""Text: turning free text into numbers a learner can use (sentence embeddings; word counts live with tables)."""
