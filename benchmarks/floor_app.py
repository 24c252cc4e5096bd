"""The latency benchmark's baseline: one slider whose released value the server echoes into a
text pane, and nothing else. Its move-to-update time is what the browsers and Panel's
round trip alone cost on the machine running the benchmark."""
import panel as pn

pn.extension(throttled=True, notifications=False)
slider = pn.widgets.FloatSlider(name="value", start=0, end=100, value=50, step=0.1)
echo = pn.pane.Markdown("echo 50.0", css_classes=["echo"])
slider.param.watch(lambda event: setattr(echo, "object", f"echo {event.new:.1f}"), "value_throttled")
pn.Column(slider, echo).servable(title="latency floor")
