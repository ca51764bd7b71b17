"""Language-model providers behind ``kalbot.ports.CompletionClient``, one module per SDK.

- ``openai_chat.OpenAIChatClient``: OpenAI, xAI (OpenAI-compatible endpoint) and any other
  OpenAI-compatible server, through the ``openai`` SDK.
- ``anthropic_messages.AnthropicClient``: Anthropic, through the ``anthropic`` SDK.
- ``base.SdkCompletionClient``: what the SDK clients share (model check, identity, SDK, close);
  ``base.ClientIdentity``: the provider/model/max_output_tokens every client reports.
- ``fake.FakeCompletionClient``: scripted replies for tests.
- ``factory.build_client``: the client a provider name and the AI settings call for.
"""
