"""Microsoft Entra ID target (``provider: entra``): directory roles through PIM and PIM for
Groups, on Microsoft's Graph SDK. Needs the ``entra`` extra (msgraph-sdk, azure-identity).

- ``plugin``: the target itself (``EntraTarget``), importable without the SDK;
- ``settings``: its JSON Schemas and the connection's settings;
- ``auth``: the azure-identity credential for each sign-in method;
- ``graph``: the Graph calls, through the SDK;
- ``principals``: GitHub login to Entra user and back;
- ``privileges``: directory roles and PIM groups as schedule requests.
"""

from engine.targets.entra.plugin import EntraTarget

__all__ = ["EntraTarget"]
