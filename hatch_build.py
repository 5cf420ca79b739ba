"""Build hook: a regular wheel carries the shipped model (models/default) inside the package, as
patentgen/models/default. An editable install does not copy it: the checkout's models/default is
used where it is."""

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ShippedModel(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name == "wheel" and version == "standard":
            build_data["force_include"]["models/default"] = "patentgen/models/default"
