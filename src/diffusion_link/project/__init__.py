"""The Kedro project's own machinery: hooks, parameter and resource checks, run lock, versions."""
