"""Code the stages share: params, errors, I/O, reading exports, adapters to the libraries, MLflow."""
