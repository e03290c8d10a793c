"""A touchscreen window in pygame, shared by the kiosk and the rating pad.

Touches (a finger, or a mouse at a bench) come in, frames go out; ``step`` runs one
frame so tests drive it headless with ``SDL_VIDEODRIVER=dummy``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pygame


class TouchWindow:
    """The pygame loop around a screen: subclasses ``draw`` a frame and take ``touch``es."""

    caption = "paidui"

    def __init__(self, size: tuple[int, int], fullscreen: bool) -> None:
        self.size = size
        self.fullscreen = fullscreen
        self._surface: pygame.Surface | None = None

    def draw(self, surface: pygame.Surface) -> None:
        """Draw the current frame."""
        raise NotImplementedError

    def touch(self, position: tuple[int, int]) -> None:
        """A finger at ``position``."""
        raise NotImplementedError

    def start(self) -> None:
        """Open the window (or the dummy video driver's surface)."""
        pygame.display.init()
        pygame.font.init()
        flags = pygame.FULLSCREEN if self.fullscreen else 0
        self._surface = pygame.display.set_mode(self.size, flags)
        pygame.display.set_caption(self.caption)
        pygame.mouse.set_visible(os.environ.get("SDL_VIDEODRIVER") != "dummy")
        self.step()

    def stop(self) -> None:
        """Close the window."""
        pygame.display.quit()

    def step(self) -> bool:
        """Handle pending input, then draw one frame; False when the window was closed."""
        assert self._surface is not None
        running = True
        width, height = self.size
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                running = False
            elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
                self.touch(event.pos)
            elif event.type == pygame.FINGERDOWN:
                # Finger positions are fractions of the screen.
                self.touch((int(event.x * width), int(event.y * height)))
        self.draw(self._surface)
        pygame.display.flip()
        return running

    def run(self, fps: int = 20) -> None:
        """Run until the window is closed."""
        clock = pygame.time.Clock()
        while self.step():
            clock.tick(fps)

    def save(self, path: Path) -> None:
        """Write the current frame as a PNG."""
        assert self._surface is not None
        pygame.image.save(self._surface, str(path))
