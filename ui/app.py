"""The chat page: a thin Gradio adapter over one `Pipeline`.

Each browser session keeps its own chat and evidence in Gradio state. Up to
`ANSWERS_AT_ONCE` questions are answered at once, the rest wait in Gradio's queue: their
searches run side by side, and a local model writes one reply at a time (a model server may
write several). Ingests run one at a time, beside the answers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
import gradio as gr

from rag import present
from rag.errors import RagError
from rag.filters import make_filters
from rag.pipeline import ArticleDone, Pipeline
from rag.stream import ask_stream
from rag.types import Turn
from ui import render
from ui.access import LoginRequired
from ui.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_FILES, UPLOAD_TYPES, save_uploads

log = logging.getLogger(__name__)

ANSWERS_AT_ONCE = 4
ANSWERS = {"concurrency_id": "answers", "concurrency_limit": ANSWERS_AT_ONCE}
INGESTS = {"concurrency_id": "ingests", "concurrency_limit": 1}

CSS = """
.nr-evidence details, .nr-passage { border: 1px solid var(--border-color-primary);
  border-radius: 6px; padding: 4px 8px; margin: 4px 0; }
.nr-passage summary { cursor: pointer; }
.nr-score { color: var(--body-text-color-subdued); font-size: 0.85em; }
.nr-cited summary b { color: var(--color-accent); }
.nr-passage mark { background: #fde68a; color: inherit; }
.nr-passage.nr-opened { outline: 2px solid var(--color-accent); }
.nr-url { word-break: break-all; font-size: 0.85em; }
"""

# Clicking an [n] in an answer opens passage n of that answer in the evidence panel.
HEAD = """
<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest('a[href^="#nr-"]');
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  const passage = document.getElementById(link.getAttribute("href").slice(1));
  if (!passage) return;
  document.querySelectorAll("details.nr-passage").forEach((d) => {
    d.classList.remove("nr-opened");
  });
  passage.open = true;
  passage.classList.add("nr-opened");
  passage.scrollIntoView({ block: "nearest" });
}, true);
</script>
"""


def build_app(pipeline: Pipeline) -> gr.Blocks:
    """The page: a chat with filters and evidence, and a corpus tab to add articles."""
    status = pipeline.status()
    app = gr.Blocks(title="newsrag", analytics_enabled=False)
    with app:
        gr.Markdown("## newsrag: ask the news")
        status_line = gr.Markdown(present.status_markdown(status), elem_id="nr-status")
        turns = gr.State([])  # this session's evidence sections, one per answer
        conversation = gr.State([])  # this session's questions and answers, as `Turn`s
        with gr.Tab("Chat"), gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(
                    elem_id="nr-chat",
                    label="Answers cite their passages: click [n] to read one",
                    height=520,
                    sanitize_html=True,
                )
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask about the articles…",
                        show_label=False,
                        scale=5,
                        elem_id="nr-question",
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="nr-ask")
                gr.Examples(
                    render.example_questions(pipeline.articles()),
                    inputs=question,
                    label="Try",
                )
                new_chat = gr.Button("New chat", size="sm", elem_id="nr-new-chat")
            with gr.Column(scale=2):
                with gr.Accordion("Filters", open=True):
                    with gr.Row():
                        since = gr.Textbox(
                            label="Published since", placeholder="YYYY-MM-DD", elem_id="nr-since"
                        )
                        until = gr.Textbox(
                            label="Published until", placeholder="YYYY-MM-DD", elem_id="nr-until"
                        )
                    sources = gr.Dropdown(
                        choices=[],  # the page's own, given when it opens: see `opened`
                        multiselect=True,
                        allow_custom_value=True,  # the pipeline refuses unknown sources
                        label="Sources (none chosen: all)",
                        elem_id="nr-sources",
                    )
                evidence = gr.HTML(render.evidence_html([]), elem_id="nr-evidence")
        with gr.Tab("Corpus"):
            gr.Markdown(
                f"Add articles: {', '.join(UPLOAD_TYPES)} files, or the URL of a feed or a page."
            )
            files = gr.File(
                file_count="multiple",
                file_types=list(UPLOAD_TYPES),
                label=f"Article files ({MAX_UPLOAD_FILES} at most at a time)",
                elem_id="nr-files",
            )
            feed = gr.Textbox(label="Feed or page URL", placeholder="https://…")
            add = gr.Button("Ingest", variant="primary", elem_id="nr-ingest")
            result = gr.Markdown(elem_id="nr-ingest-result")
            problems = gr.Dataframe(
                headers=["file", "problem", "what to do"],
                datatype=["str", "str", "str"],
                interactive=False,
                label="Problems",
                elem_id="nr-problems",
            )

        def respond(
            text: str,
            history: list[Any],
            sections: list[str],
            past: list[Turn],
            first: str,
            last: str,
            only: list[str],
        ) -> Iterator[tuple[Any, ...]]:
            history = [*history]
            if not text.strip():
                return
            history += [
                {"role": "user", "content": present.escape_markdown(text)},
                {"role": "assistant", "content": "…"},
            ]
            try:
                filters = make_filters(since=first, until=last, sources=only or [])
            except RagError as error:
                history[-1]["content"] = render.error_markdown(error)
                yield history, sections, past, gr.skip(), ""
                return
            yield history, sections, past, gr.skip(), ""
            draft = ""
            try:
                for piece in ask_stream(pipeline, text, history=past, filters=filters):
                    if isinstance(piece, str):
                        draft += piece
                        history[-1]["content"] = render.draft_markdown(draft)
                        yield history, sections, past, gr.skip(), gr.skip()
                        continue
                    turn = len(sections) + 1
                    sections = [*sections, render.evidence_section(turn, piece)]
                    past = [*past, Turn(piece.question, piece.text)]
                    history[-1]["content"] = "\n\n".join(
                        part
                        for part in (
                            render.read_as_markdown(piece),
                            render.answer_markdown(piece, turn),
                            render.answer_note(piece, filters),
                        )
                        if part
                    )
                    yield history, sections, past, render.evidence_html(sections), gr.skip()
            except Exception as error:  # the page shows it; the log keeps the traceback
                if not isinstance(error, RagError):
                    log.exception("answering %r failed", text)
                history[-1]["content"] = render.error_markdown(error)
                yield history, sections, past, gr.skip(), gr.skip()

        def ingest(
            uploads: list[str] | None,
            url: str,
            progress: gr.Progress = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, ...]:
            saved, refused = save_uploads(
                uploads or [], folder=pipeline.settings.data_dir / "uploads"
            )
            inputs: list[str] = [str(p) for p in saved]
            if url.strip():
                inputs.append(url.strip())
            if not inputs:
                message = "Nothing to ingest: choose files or give a URL."
                return message, present.problem_rows(refused), gr.skip(), gr.skip()
            done = 0

            def tick(article: ArticleDone) -> None:
                nonlocal done
                done += 1
                progress((done, article.total), desc="Indexing", unit="articles")

            try:
                report = pipeline.ingest(inputs, on_article=tick)
            except Exception as error:  # shown in the page; the log keeps the traceback
                log.exception("ingest failed")
                return (
                    render.error_markdown(error),
                    present.problem_rows(refused),
                    gr.skip(),
                    gr.skip(),
                )
            now = pipeline.status()
            return (
                present.ingest_markdown(report),
                present.problem_rows([*refused, *report.problems]),
                present.status_markdown(now),
                gr.update(choices=render.source_choices(now)),
            )

        def opened() -> tuple[Any, ...]:
            """The index as it is now, for a page that has just opened (others may have added
            to it since the app was built). The sources are given only here: Gradio describes
            the API, each input's choices included, in the page it serves before the login."""
            now = pipeline.status()
            return present.status_markdown(now), gr.update(choices=render.source_choices(now))

        app.load(opened, None, [status_line, sources], queue=False, api_visibility="private")
        chat_inputs = [question, chat, turns, conversation, since, until, sources]
        chat_outputs = [chat, turns, conversation, evidence, question]
        # The API (gradio_client) asks through /ask; Enter in the box is the same event.
        ask.click(respond, chat_inputs, chat_outputs, api_name="ask", **ANSWERS)  # type: ignore[arg-type]
        question.submit(
            respond,
            chat_inputs,
            chat_outputs,
            api_visibility="private",
            **ANSWERS,  # type: ignore[arg-type]
        )
        new_chat.click(
            lambda: ([], [], [], render.evidence_html([])),
            None,
            [chat, turns, conversation, evidence],
            queue=False,
        )
        add.click(
            ingest,
            [files, feed],
            [result, problems, status_line, sources],
            api_name="ingest",
            **INGESTS,  # type: ignore[arg-type]
        )
    return app


def launch(
    app: gr.Blocks,
    *,
    host: str,
    port: int,
    auth: tuple[str, str] | None = None,
    block: bool = True,
) -> None:
    """Serve `app` on `host`:`port` as `rag serve` does; with `auth`, every route but the
    login page's wants the login (`ui.access`). `block=False` returns once it listens."""
    from starlette.middleware import Middleware

    app.queue().launch(
        server_name=host,
        server_port=port,
        auth=auth,
        max_file_size=MAX_UPLOAD_BYTES,
        app_kwargs={"middleware": [Middleware(LoginRequired)]},
        prevent_thread_lock=not block,
        show_error=False,
        quiet=True,
        ssr_mode=False,
        css=CSS,
        head=HEAD,
    )
