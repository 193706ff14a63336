"""The contract enforced: request validation compiled from the contract file, and its agreement with the model."""
