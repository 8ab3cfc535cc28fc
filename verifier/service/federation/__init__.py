"""Federation between deployments (异地协查): trust in peers, and the fragments a peer
signs for a requester. See docs/federation-protocol.md."""
