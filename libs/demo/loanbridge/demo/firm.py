"""The demo firm (ARCHITECTURE.md §8): 齐鲁融通, a loan-facilitation firm in Shandong with four sales teams, a risk
desk and operations; its channels and their monthly spend, the lenders it places files with, and the synthetic
people who come to it (names, checksum-valid ID numbers of Shandong districts, mobiles of the mainland plan)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from loanbridge.common.testing import synthetic
from loanbridge.intake.domain.leads import SHANDONG_CITIES

FIRM = "齐鲁融通"

# An existing district of each prefecture city (the city's first urban district in the national division list).
DISTRICTS = dict(zip(SHANDONG_CITIES, ("370102", "370202", "370302", "370402", "370502", "370602", "370702",
                                       "370802", "370902", "371002", "371102", "371302", "371402", "371502",
                                       "371602", "371702"), strict=True))  # fmt: skip
# Leads per city: the two big cities first, then the rest of the province.
CITY_WEIGHTS = dict(zip(SHANDONG_CITIES, (18, 16, 6, 3, 4, 8, 8, 6, 4, 4, 3, 8, 3, 3, 2, 4), strict=True))


@dataclass(frozen=True)
class Team:
    key: str
    name: str
    region: str
    cities: tuple[str, ...]


TEAMS = (
    Team("jinan", "济南一组", "济南", ("济南", "泰安", "德州", "聊城", "滨州")),
    Team("qingdao", "青岛一组", "青岛", ("青岛", "烟台", "威海", "日照")),
    Team("luzhong", "鲁中组", "淄博", ("淄博", "潍坊", "东营")),
    Team("lunan", "鲁南组", "临沂", ("临沂", "济宁", "枣庄", "菏泽")),
)


@dataclass(frozen=True)
class Person:
    username: str
    display_name: str
    roles: tuple[str, ...]
    team: str | None = None
    products: tuple[str, ...] = ()


STAFF = (
    Person("sun.jianguo", "孙建国", ("admin",)),
    Person("zhao.lei", "赵磊", ("manager",), "jinan"),
    Person("wang.fang", "王芳", ("sales",), "jinan"),
    Person("li.qiang", "李强", ("sales",), "jinan"),
    Person("liu.yang", "刘洋", ("sales",), "jinan"),
    Person("chen.jing", "陈静", ("sales",), "jinan"),
    Person("zhou.hai", "周海", ("manager",), "qingdao"),
    Person("wu.min", "吴敏", ("sales",), "qingdao"),
    Person("xu.tao", "徐涛", ("sales",), "qingdao"),
    Person("hu.xiaoli", "胡晓丽", ("sales",), "qingdao"),
    Person("gao.peng", "高鹏", ("manager",), "luzhong"),
    Person("lin.na", "林娜", ("sales",), "luzhong"),
    Person("he.jun", "何军", ("sales",), "luzhong"),
    Person("guo.hongmei", "郭红梅", ("sales",), "luzhong"),
    Person("ma.chao", "马超", ("manager",), "lunan"),
    Person("luo.bin", "罗斌", ("sales",), "lunan"),
    Person("song.li", "宋丽", ("sales",), "lunan"),
    Person("tang.wei", "唐伟", ("sales",), "lunan"),
    Person("han.xue", "韩雪", ("risk_officer",)),
    Person("feng.gang", "冯刚", ("risk_officer",)),
    Person("deng.hui", "邓辉", ("risk_director",)),
    Person("cao.yan", "曹燕", ("ops",)),
)


@dataclass(frozen=True)
class Channel:
    code: str
    name: str
    kind: str
    weight: int
    monthly_spend: tuple[int, int]  # yuan, a month's range
    partner: bool = False


CHANNELS = (
    Channel("douyin", "抖音", "advertising", 30, (32_000, 42_000)),
    Channel("baidu", "百度", "advertising", 22, (18_000, 26_000)),
    Channel("ground", "地推", "offline", 20, (9_000, 13_000)),
    Channel("referral", "转介绍", "referral", 14, (3_000, 5_000)),
    Channel("rongxin", "融信科技(API)", "partner", 14, (8_000, 12_000), partner=True),
)
PARTNER_NAME = "融信科技"

PRODUCT_WEIGHTS = {"house": 35, "credit": 42, "car": 23}
AMOUNTS = {
    "house": (300_000, 400_000, 500_000, 600_000, 800_000, 1_000_000, 1_500_000),
    "credit": (50_000, 80_000, 100_000, 150_000, 200_000, 300_000),
    "car": (50_000, 80_000, 100_000, 150_000, 200_000, 300_000),
}
TERMS = {"house": (36, 60), "credit": (12, 24, 36), "car": (12, 24, 36)}
PURPOSES = ("经营周转", "购置设备", "装修", "教育支出", "医疗支出", "资金周转", "进货")

# Optional fields the firm adds to each product's form (version 2, published by the demo's admin).
FORM_ADDITIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "house": ("property_type", {"type": "string", "title": "房产类型", "enum": ["residence", "shop", "office"],
                                "x-enum-titles": ["住宅", "商铺", "写字楼"]}),
    "credit": ("work_years", {"type": "integer", "title": "现单位工作年限", "minimum": 0, "maximum": 60}),
    "car": ("vehicle_mileage_km", {"type": "number", "title": "行驶里程(公里)", "minimum": 0, "maximum": 2_000_000}),
}  # fmt: skip


@dataclass(frozen=True)
class LenderProduct:
    code: str
    lender: str
    name: str
    products: tuple[str, ...]
    min_amount: int
    max_amount: int
    max_term: int
    rate: tuple[float, float]
    commission_rate: float
    strictness: float  # how much more often than average it declines a file (1.0 = average)
    criteria: tuple[dict[str, str], ...] = field(default=())

    def as_request(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "lender": self.lender,
            "name": self.name,
            "terms": {"products": list(self.products), "min_amount": self.min_amount, "max_amount": self.max_amount,
                      "min_term": 6, "max_term": self.max_term, "rate_min": self.rate[0], "rate_max": self.rate[1]},
            "criteria": list(self.criteria),
        }  # fmt: skip


INCOME_5000 = {"id": "INCOME_5000", "field": "monthly_income", "expression": "monthly_income >= 5000",
               "reason": "月收入不低于5000元"}  # fmt: skip
INQUIRIES_8 = {"id": "INQUIRIES_8", "field": "credit_inquiries_3m", "expression": "credit_inquiries_3m <= 8",
               "reason": "近3个月征信查询不超过8次"}  # fmt: skip

LENDER_PRODUCTS = (
    LenderProduct("qlbank-house", "齐鲁银行", "房抵经营贷", ("house",), 200_000, 3_000_000, 120, (0.042, 0.065),
                  0.015, 0.9, (INQUIRIES_8,)),
    LenderProduct("ytbank-house", "烟台银行", "安居抵押贷", ("house",), 100_000, 2_000_000, 60, (0.048, 0.072),
                  0.018, 1.1),
    LenderProduct("wfbank-credit", "潍坊银行", "白领信用贷", ("credit",), 30_000, 300_000, 36, (0.068, 0.12),
                  0.025, 1.0, (INCOME_5000,)),
    LenderProduct("hxcf-credit", "海新消费金融", "薪享贷", ("credit",), 10_000, 200_000, 36, (0.1, 0.18),
                  0.03, 0.8),
    LenderProduct("pingan-car", "平安银行", "车主贷", ("car",), 30_000, 500_000, 36, (0.065, 0.11), 0.02, 1.0),
    LenderProduct("lsbank-general", "临商银行", "齐鲁易贷", ("house", "credit", "car"), 50_000, 1_000_000, 60,
                  (0.055, 0.095), 0.02, 1.2),
)  # fmt: skip

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志鹏飞海燕文慧俊晓东雪梅丹宇浩然子涵欣怡"
MOBILE_PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "178",
                   "182", "183", "187", "188", "130", "131", "132", "155", "156", "185", "186", "133", "153",
                   "177", "180", "189", "199")  # fmt: skip


def person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
    return rng.choice(SURNAMES) + given


def mobile(rng: random.Random, used: set[str]) -> str:
    """A mainland mobile number not handed out before in this run."""
    return _fresh(used, lambda: synthetic.mobile(rng, blocks=MOBILE_PREFIXES))


def id_number(rng: random.Random, *, city: str, birth: date, used: set[str]) -> str:
    """A GB 11643 ID number (district of ``city``, real birth date, checksum) not handed out before in this run."""
    return _fresh(used, lambda: synthetic.id_number_of(DISTRICTS[city], birth, rng.randrange(1000)))


def _fresh(used: set[str], draw: Callable[[], str]) -> str:
    while (value := draw()) in used:
        pass
    used.add(value)
    return value


def weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]
