"""Deployment files: Dockerfile, compose.yaml, .env.example, infra/."""
