// Package expr is the expression language of pipeline definitions: one CEL
// environment shared by trigger filters (`if:`), step conditions and the
// `${{ }}` templates of `with:` values.
//
// Expressions are compiled, type-checked and cost-estimated once, when a
// definition is loaded; a Program is immutable and safe for concurrent use.
// Evaluation takes the caller's context (checked every few iterations of a
// comprehension) and a runtime cost limit, so a hostile payload cannot pin a
// CPU.
//
// # Variables
//
//   - event: id, type, source, subject, workspace, org, time, data,
//     extensions. The payload is decoded once per event (EventVars) and
//     shared by every expression evaluated for it.
//   - steps: steps.<id>.outputs, .outcome, .conclusion (steps' scope only).
//   - pipeline: name, workspace. execution: id, attempt (steps' scope only).
//   - secrets: secrets.NAME, in `with:` templates only, always by a literal
//     name so the secrets a step needs are known at load time.
//     has(secrets.NAME) and secrets.?NAME mark a secret the expression is
//     ready to find missing (Ref.Optional).
//
// # Secrets reach a value only as they are
//
// A secret may be the whole expression, an operand of +, an item of a list
// literal, a value of a map literal, a branch of ?: or the target or
// default of orValue()/or(), and the expression holding it must again be
// in such a place. Anything else done to a secret (a function, a method, a
// comparison, an index, a conversion, a map key, a comprehension) is a
// compile error: the result then holds the secret's exact bytes wherever
// it holds anything computed from it, so replacing those bytes redacts it
// completely, and no value or error can carry it transformed.
//
// The functions success(), failure(), cancelled() and always() read the
// status of the execution so far from the activation (they are late-bound),
// so a compiled Program is reused across executions.
//
// A missing field is an evaluation error, never an empty string: use has()
// or optional access (event.data.?x.orValue("default")).
package expr
