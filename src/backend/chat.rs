//! Chat templates: the GGUF's own Jinja template, rendered with minijinja.

use minijinja::{context, Environment, Error, ErrorKind};
use serde::Serialize;

use super::BackendError;

/// One chat message.
#[derive(Debug, Clone, Serialize)]
pub struct Message<'a> {
    /// `system`, `user` or `assistant`.
    pub role: &'a str,
    /// The text.
    pub content: &'a str,
}

/// A compiled chat template.
pub struct ChatTemplate {
    env: Environment<'static>,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatTemplate")
    }
}

fn raise_exception(msg: String) -> Result<String, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, msg))
}

impl ChatTemplate {
    /// Compile the template source from `tokenizer.chat_template`.
    pub fn new(source: &str) -> Result<Self, BackendError> {
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| BackendError::ChatTemplate(e.to_string()))?;
        Ok(Self { env })
    }

    /// Render `messages` with the generation prompt appended, as the model expects its input.
    pub fn render(
        &self,
        messages: &[Message<'_>],
        bos_token: &str,
        eos_token: &str,
    ) -> Result<String, BackendError> {
        let tmpl = self
            .env
            .get_template("chat")
            .map_err(|e| BackendError::ChatTemplate(e.to_string()))?;
        tmpl.render(context! {
            messages => messages
                .iter()
                .map(|m| minijinja::Value::from_pairs([("role", m.role), ("content", m.content)]))
                .collect::<Vec<_>>(),
            add_generation_prompt => true,
            bos_token => bos_token,
            eos_token => eos_token,
        })
        .map_err(|e| BackendError::ChatTemplate(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_chatml_template() {
        let t = ChatTemplate::new(
            "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content | trim }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
        )
        .unwrap();
        let out = t
            .render(
                &[Message {
                    role: "user",
                    content: " Ndaa! ",
                }],
                "",
                "",
            )
            .unwrap();
        assert_eq!(
            out,
            "<|im_start|>user\nNdaa!<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn python_string_methods_work() {
        let t = ChatTemplate::new(
            "{% if messages[0].content.strip().startswith('A') %}yes{% else %}no{% endif %}",
        )
        .unwrap();
        let out = t
            .render(
                &[Message {
                    role: "user",
                    content: " A",
                }],
                "",
                "",
            )
            .unwrap();
        assert_eq!(out, "yes");
    }

    #[test]
    fn a_broken_template_is_an_error() {
        assert!(ChatTemplate::new("{% for %}").is_err());
    }
}
