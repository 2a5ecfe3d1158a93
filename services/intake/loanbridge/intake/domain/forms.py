"""Product forms: a JSON Schema (2020-12) document per product version, with zh-CN titles and three extensions:
``x-pii`` (the field is personal data: stored encrypted, never on the bus), ``x-risk-feature`` (shared with risk
in ``features``), and ``x-required-documents`` (document types a complete application needs).

Values are checked twice: when a lead is entered (types, formats and ranges of what was given) and when it is
submitted (everything the form requires). Each error names the field and says what is wrong in Chinese.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

DOCUMENT_TYPES: dict[str, str] = {
    "id_card": "身份证",
    "credit_report": "征信报告",
    "bank_statement": "银行流水",
    "income_proof": "收入证明",
    "property_certificate": "房产证",
    "vehicle_license": "行驶证",
    "asset_proof": "资产证明",
    "other": "其他材料",
}

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TYPE_NAMES = {"string": "文本", "number": "数字", "integer": "整数", "boolean": "是/否", "array": "列表",
              "object": "对象", "null": "空"}  # fmt: skip


@dataclass(frozen=True)
class FormDefinition:
    """One published (or draft) version of a product's form."""

    schema: Mapping[str, Any]

    @property
    def properties(self) -> Mapping[str, Any]:
        return self.schema.get("properties", {})

    @cached_property
    def pii_fields(self) -> frozenset[str]:
        return frozenset(name for name, spec in self.properties.items() if spec.get("x-pii"))

    @cached_property
    def risk_features(self) -> frozenset[str]:
        return frozenset(name for name, spec in self.properties.items() if spec.get("x-risk-feature"))

    @property
    def required_documents(self) -> list[str]:
        return list(self.schema.get("x-required-documents", []))

    @property
    def required_fields(self) -> list[str]:
        return list(self.schema.get("required", []))

    def risk_feature_types(self) -> list[dict[str, str]]:
        """Each risk feature with its JSON type and title, as risk needs them to check a rule set."""
        return [
            {"name": name, "type": _json_type(self.properties[name]), "title": self.title(name)}
            for name in sorted(self.risk_features)
        ]

    def title(self, field: str) -> str:
        return str(self.properties.get(field, {}).get("title") or field)

    def features_of(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values risk may see: the fields marked as risk features, nothing personal."""
        return {name: value for name, value in values.items() if name in self.risk_features}

    def errors_in_values(self, values: Mapping[str, Any]) -> dict[str, list[str]]:
        """What is wrong with the values given so far (missing fields are not errors yet)."""
        partial = copy.deepcopy(dict(self.schema))
        partial.pop("required", None)
        return _errors(partial, values, self)

    def errors_for_submission(self, values: Mapping[str, Any]) -> dict[str, list[str]]:
        """What is wrong or missing for a complete application."""
        return _errors(dict(self.schema), values, self)


def _json_type(spec: Mapping[str, Any]) -> str:
    kind = spec.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind)


def definition_errors(schema: Any) -> list[str]:
    """Why a form document cannot be saved (empty when it can): a valid JSON Schema of an object whose fields
    have safe names and whose extensions are well formed."""
    if not isinstance(schema, dict):
        return ["表单定义必须是 JSON 对象"]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [f"不是有效的 JSON Schema: {exc.message}"]
    problems = []
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        problems.append("表单必须是 type 为 object 且带 properties 的 JSON Schema")
    for name, spec in (schema.get("properties") or {}).items():
        if not FIELD_NAME.match(name):
            problems.append(f"字段名 {name} 只能由小写字母、数字和下划线组成")
        if not isinstance(spec, dict) or not spec.get("title"):
            problems.append(f"字段 {name} 需要中文标题 (title)")
            continue
        for flag in ("x-pii", "x-risk-feature"):
            if flag in spec and not isinstance(spec[flag], bool):
                problems.append(f"字段 {name} 的 {flag} 必须是 true 或 false")
        if spec.get("x-pii") and spec.get("x-risk-feature"):
            problems.append(f"字段 {name} 不能既是个人信息 (x-pii) 又是风控特征 (x-risk-feature)")
    unknown = sorted(set(schema.get("x-required-documents", [])) - set(DOCUMENT_TYPES))
    if unknown:
        problems.append(f"未知的材料类型: {', '.join(unknown)}")
    missing = sorted(set(schema.get("required", [])) - set(schema.get("properties", {})))
    if missing:
        problems.append(f"required 中的字段不存在: {', '.join(missing)}")
    return problems


def _errors(schema: dict[str, Any], values: Mapping[str, Any], form: FormDefinition) -> dict[str, list[str]]:
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    found: dict[str, list[str]] = {}
    for error in validator.iter_errors(dict(values)):
        for field, message in _explain(error, values, form):
            found.setdefault(field, []).append(message)
    return found


def _explain(error: ValidationError, values: Mapping[str, Any], form: FormDefinition) -> list[tuple[str, str]]:
    """The field an error is about and a zh-CN sentence that does not repeat the value."""
    if error.validator == "required":
        return [(name, f"{form.title(name)}为必填项") for name in error.validator_value if name not in values]
    if error.validator == "additionalProperties":
        extra = sorted(set(values) - set(form.properties))
        return [(name, "不是该产品表单中的字段") for name in extra]
    field = str(error.path[0]) if error.path else "form"
    title = form.title(field)
    rule = error.validator_value
    messages = {
        "type": lambda: f"{title}应为{_type_name(rule)}",
        "minimum": lambda: f"{title}不能小于 {rule}",
        "exclusiveMinimum": lambda: f"{title}必须大于 {rule}",
        "maximum": lambda: f"{title}不能大于 {rule}",
        "exclusiveMaximum": lambda: f"{title}必须小于 {rule}",
        "minLength": lambda: f"{title}至少 {rule} 个字符",
        "maxLength": lambda: f"{title}最多 {rule} 个字符",
        "enum": lambda: f"{title}取值无效",
        "pattern": lambda: f"{title}格式不正确",
        "format": lambda: f"{title}格式不正确",
    }
    explain = messages.get(str(error.validator))
    return [(field, explain() if explain else f"{title}取值无效")]


def _type_name(rule: Any) -> str:
    names = rule if isinstance(rule, list) else [rule]
    return "或".join(TYPE_NAMES.get(str(name), str(name)) for name in names)
