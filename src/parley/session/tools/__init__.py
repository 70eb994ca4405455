"""Tools: functions the agent may call mid-answer (docs/tools.md).

`model` defines a tool and what its handler may ask of the call; `settings` is the `[tools]`
section; `python` and `webhook` turn declarations into tools; `builtin` holds `end_call` and
`transfer_call`; `runner` runs a round of calls with timeouts and turns any failure into an
error result the model reads.
"""

from parley.session.tools.model import Tool, ToolBox, ToolContext, ToolError
from parley.session.tools.settings import ToolSettings

__all__ = ["Tool", "ToolBox", "ToolContext", "ToolError", "ToolSettings"]
