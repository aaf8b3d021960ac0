"""IVR menus: the YAML format, its checks, the menu engine and the live-menu registry.

Menu files live in the top-level ``menus/`` directory (data, never code).
"""

from ivr.menus.live import load_live_prompt_audio, load_live_prompt_texts

__all__ = ["load_live_prompt_audio", "load_live_prompt_texts"]
